//! Text-fitting helpers the screens share: which table columns show and how wide on a given
//! terminal (columns give way by rank), and text cut or padded to a number of terminal
//! columns with an "…" where it was cut.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::app::{App, Flash, Level};
use super::keymap;
use super::table::Col;
use super::theme::Theme;
use crate::output::elide;

/// Room for a sort arrow (" ▲") beside every heading, so sorting never cuts one.
const ARROW: usize = 2;

/// The width of each column in `width` terminal columns, one column apart, `None` for those
/// that give way. Columns are taken by rank (lowest first), each as wide as its cells need
/// (`wants`, between its minimum — room for its heading and a sort arrow — and its maximum;
/// the fill column's need has no maximum); the first that does not fit whole takes the room
/// left if its minimum fits, and the rest give way. A column with a share ([`Col::share`])
/// counts only that much while the columns are chosen, and then grows into what is left over;
/// the rest of that goes to the fill column.
pub fn fit_columns(
    width: u16,
    layout: &[Col],
    headers: &[&str],
    wants: &[usize],
) -> Vec<Option<u16>> {
    let min_of = |i: usize| {
        let head = headers.get(i).map_or(0, |h| h.width()) + ARROW;
        u32::from(layout[i].min).max(u32::try_from(head).unwrap_or(u32::MAX))
    };
    let need_of = |i: usize, max: u16| {
        let need = wants
            .get(i)
            .map_or(0, |&w| u32::try_from(w).unwrap_or(u32::MAX));
        let max = if layout[i].fill {
            u32::MAX
        } else {
            u32::from(max)
        };
        need.min(max).max(min_of(i))
    };
    // Choosing the columns, each takes up to its share.
    let want_of = |i: usize| need_of(i, layout[i].share.min(layout[i].max));
    let width = u32::from(width);
    let mut order: Vec<usize> = (0..layout.len()).collect();
    order.sort_by_key(|&i| (layout[i].rank, i));
    let mut out: Vec<Option<u16>> = vec![None; layout.len()];
    let mut used: u32 = 0;
    for &i in &order {
        let gap = u32::from(used > 0);
        let room = width.saturating_sub(used + gap);
        if room < min_of(i) {
            break;
        }
        let w = want_of(i).min(room);
        used += gap + w;
        out[i] = u16::try_from(w).ok();
        if w < want_of(i) {
            break;
        }
    }
    // A column past its share grows into the room the columns shown leave over (before the
    // fill column takes it), so it cuts no other column's text.
    let fill_at = layout.iter().position(|c| c.fill);
    for i in 0..layout.len() {
        let Some(w) = out[i] else { continue };
        let full = need_of(i, layout[i].max);
        let grow = full
            .saturating_sub(u32::from(w))
            .min(width.saturating_sub(used));
        if layout[i].fill || grow == 0 {
            continue;
        }
        out[i] = u16::try_from(u32::from(w) + grow).ok();
        used += grow;
    }
    if let Some(i) = fill_at
        && let Some(w) = out[i]
    {
        let extra = width.saturating_sub(used);
        out[i] = Some(w.saturating_add(u16::try_from(extra).unwrap_or(u16::MAX)));
    }
    out
}

/// `s` cut (with "…") or padded with spaces to exactly `cols` terminal columns.
pub fn padded(s: &str, cols: usize) -> String {
    let mut out = elide(s, cols);
    let w = out.width();
    out.extend(std::iter::repeat_n(' ', cols.saturating_sub(w)));
    out
}

/// One line with `left` flush left and `right` flush right. When both do not fit, the right
/// side gives way down to the first `keep_left` columns of the left; whatever is cut, on
/// either side, ends in "…".
pub fn render_lr(
    f: &mut Frame<'_>,
    area: Rect,
    left: Vec<Span<'_>>,
    right: Vec<Span<'_>>,
    bg: Style,
    keep_left: usize,
) {
    let total = usize::from(area.width);
    let spans_width = |spans: &[Span<'_>]| spans.iter().map(Span::width).sum::<usize>();
    let (lw, rw) = (spans_width(&left), spans_width(&right));
    // What the left keeps; past it, three columns more say that something was cut (" ·…").
    let keep = if lw > keep_left {
        keep_left.saturating_add(3).min(lw)
    } else {
        lw
    };
    // Two columns between the sides, so the left never runs into the right.
    let right_room = total.saturating_sub(keep + 2);
    let right = elide_spans(right, right_room.max(total.saturating_sub(lw + 2)));
    let rw = rw.min(spans_width(&right)) + 2;
    let left = elide_spans(left, total.saturating_sub(rw));
    let rw = (rw as u16).min(area.width);
    let [l, r] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(rw)]).areas(area);
    f.render_widget(Paragraph::new(Line::from(left)).style(bg), l);
    f.render_widget(
        Paragraph::new(Line::from(right))
            .alignment(Alignment::Right)
            .style(bg),
        r,
    );
}

/// `spans` cut to `cols` terminal columns, the cut marked with "…" (styles kept).
pub fn elide_spans(spans: Vec<Span<'_>>, cols: usize) -> Vec<Span<'_>> {
    let mut used = 0;
    let mut out = Vec::with_capacity(spans.len());
    for s in spans {
        let w = s.width();
        if used + w <= cols {
            used += w;
            out.push(s);
            continue;
        }
        let cut = elide(&s.content, cols - used);
        if !cut.is_empty() {
            out.push(Span::styled(cut, s.style));
        } else if let Some(last) = out.pop() {
            // No room left for the mark in this span: the one before gives a column for it.
            let room = last.width();
            let marked = elide(&format!("{}…", last.content), room);
            out.push(Span::styled(marked, last.style));
        }
        break;
    }
    out
}

/// Key hints that fit in `width`, in table order. Pinned hints (`/`, `s`, `?`, `q`, and the
/// key that closes what is open) always show; the others take the room left, in order, each
/// one that does not fit giving way; a "…" before the last two says that some did (and `?`
/// lists everything). "help" and "quit" come last.
pub fn hints_line(hints: &[keymap::Hint], th: Theme, width: u16) -> Line<'static> {
    let len = |k: &str, l: &str| k.width() + l.width() + 3;
    let last = |l: &str| l == "help" || l == "quit";
    let avail = usize::from(width).saturating_sub(1);
    let total: usize = hints.iter().map(|(k, l, _)| len(k, l)).sum();
    let cut = total > avail;
    let pinned: usize = hints
        .iter()
        .filter(|(_, _, p)| *p)
        .map(|(k, l, _)| len(k, l))
        .sum();
    let mut budget = avail.saturating_sub(pinned + if cut { 3 } else { 0 });
    let mut keep = vec![false; hints.len()];
    for (i, (k, l, p)) in hints.iter().enumerate() {
        if *p {
            keep[i] = true;
        } else if len(k, l) <= budget {
            budget -= len(k, l);
            keep[i] = true;
        }
    }
    let mut spans = vec![Span::raw(" ")];
    let push = |spans: &mut Vec<Span<'static>>, k: &str, l: &str| {
        spans.push(Span::styled(k.to_owned(), th.key()));
        spans.push(Span::raw(format!(" {l}  ")));
    };
    for (i, (k, l, _)) in hints.iter().enumerate() {
        if keep[i] && !last(l) {
            push(&mut spans, k, l);
        }
    }
    if cut {
        spans.push(Span::styled("…  ", th.dim()));
    }
    for (i, (k, l, _)) in hints.iter().enumerate() {
        if keep[i] && last(l) {
            push(&mut spans, k, l);
        }
    }
    Line::from(spans)
}

pub fn flash_line(flash: &Flash, th: Theme) -> Line<'static> {
    let style = match flash.level {
        Level::Info => Style::new(),
        Level::Ok => th.ok(),
        Level::Error => th.error(),
    };
    Line::styled(format!(" {}", flash.text), style)
}

/// How many lines a message may take above the footer.
pub const FLASH_LINES: usize = 2;

/// A message on its lines above the footer: wrapped at spaces (so a setting like
/// `set -g set-clipboard on` stays whole where it can), at most [`FLASH_LINES`] of them, the
/// last cut with "…" only if the text is longer still.
pub fn flash_fitted(flash: &Flash, th: Theme, width: u16) -> Vec<Line<'static>> {
    let style = flash_line(flash, th).style;
    let width = usize::from(width);
    // A setting in backticks breaks nowhere: its spaces are a private-use character while
    // wrapping (a no-break space would count as whitespace).
    let mut text = String::with_capacity(flash.text.len());
    let mut quoted = false;
    for c in flash.text.chars() {
        quoted ^= c == '`';
        text.push(if quoted && c == ' ' { '\u{e000}' } else { c });
    }
    let mut rows = Vec::new();
    hanging(&mut rows, Span::raw(" "), &text, width);
    let mut rows: Vec<Line<'static>> = rows
        .into_iter()
        .map(|l| {
            Line::from(
                l.spans
                    .into_iter()
                    .map(|s| Span::raw(s.content.replace('\u{e000}', " ")))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    if rows.len() > FLASH_LINES {
        let rest: Vec<String> = rows[FLASH_LINES - 1..]
            .iter()
            .map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.trim())
                    .collect::<Vec<_>>()
                    .join("")
            })
            .collect();
        rows.truncate(FLASH_LINES - 1);
        rows.push(Line::raw(format!(
            " {}",
            elide(&rest.join(" "), width.saturating_sub(1))
        )));
    }
    rows.into_iter().map(|l| l.style(style)).collect()
}

/// A centred rectangle of at most `w`×`h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

pub fn popup(f: &mut Frame<'_>, r: Rect, title: &str, th: Theme) -> Rect {
    f.render_widget(Clear, r);
    let block = Block::bordered().title(Span::styled(format!(" {title} "), th.title()));
    let inner = block.inner(r);
    f.render_widget(block, r);
    inner
}

/// Adds `text` after `lead`, wrapped at word boundaries to `width` columns, each following line
/// indented to where the text began (a hanging indent, so the key column stays clear).
pub fn hanging(lines: &mut Vec<Line<'static>>, lead: Span<'static>, text: &str, width: usize) {
    let indent = lead.width();
    let room = width.saturating_sub(indent).max(16);
    let mut rows: Vec<String> = vec![String::new()];
    for word in text.split_whitespace() {
        let mut word = word.to_owned();
        loop {
            let row = rows.last_mut().map_or(0, |r| Span::raw(r.as_str()).width());
            let need = Span::raw(word.as_str()).width() + usize::from(row > 0);
            if row + need <= room {
                if let Some(r) = rows.last_mut() {
                    if row > 0 {
                        r.push(' ');
                    }
                    r.push_str(&word);
                }
                break;
            }
            if row > 0 {
                rows.push(String::new());
                continue;
            }
            // A word longer than a whole row: cut it (by columns: wide characters take two).
            let at = split_at_width(&word, room);
            if let Some(r) = rows.last_mut() {
                r.push_str(&word[..at]);
            }
            word = word[at..].to_owned();
            rows.push(String::new());
        }
    }
    if rows.len() > 1 && rows.last().is_some_and(String::is_empty) {
        rows.pop();
    }
    let pad = " ".repeat(indent);
    for (i, row) in rows.into_iter().enumerate() {
        let head = if i == 0 {
            lead.clone()
        } else {
            Span::raw(pad.clone())
        };
        lines.push(Line::from(vec![head, Span::raw(row)]));
    }
}

/// The byte offset where `s` passes `cols` terminal columns (at least one character, so a row
/// always takes something).
pub fn split_at_width(s: &str, cols: usize) -> usize {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.width().unwrap_or(0);
        if used > cols {
            return if i == 0 { c.len_utf8() } else { i };
        }
    }
    s.len()
}

/// A field of a details view: its name in a column of its own, its value wrapped beside it.
pub fn field(lines: &mut Vec<Line<'static>>, th: Theme, name: &str, value: &str, width: usize) {
    hanging(
        lines,
        Span::styled(format!("{name:<13} "), th.dim()),
        value,
        width,
    );
}

/// Notes how far `lines` can scroll in `area` (for `update`) and clamps `scroll` to it.
pub fn clamp_scroll(app: &App, lines: &[Line<'_>], area: Rect, scroll: u16) -> u16 {
    let w = usize::from(area.width.max(1));
    let total: usize = lines.iter().map(|l| l.width().max(1).div_ceil(w)).sum();
    let max = u16::try_from(total.saturating_sub(usize::from(area.height))).unwrap_or(u16::MAX);
    app.scroll_max.set(max);
    app.scroll_page.set(area.height);
    scroll.min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::table::Row;
    use gatepass_protocol::{Host, Token};

    fn shown(width: u16, layout: &[Col], headers: &[&str], wants: &[usize]) -> Vec<(String, u16)> {
        fit_columns(width, layout, headers, wants)
            .iter()
            .zip(headers)
            .filter_map(|(w, h)| w.map(|w| (h.to_string(), w)))
            .collect()
    }

    /// At 80 columns NAME, STATUS and USES stay readable and DESCRIPTION gets real room (it
    /// had 3 characters); at 60 names keep more room than USES (they were cut to 8 while USES
    /// kept 8); a heading always has room for its arrow (`ENROLL… ▼` at 120).
    /// The layout and headings as a view of one tenant shows them (no TENANT column).
    fn one_tenant<T: Row>() -> (Vec<Col>, Vec<&'static str>) {
        let order = crate::console::table::Table::<T>::display_order(false);
        (
            order.iter().map(|&c| T::LAYOUT[c]).collect(),
            order.iter().map(|&c| T::COLUMNS[c]).collect(),
        )
    }

    #[test]
    fn columns_give_way_by_rank() {
        let (layout, heads) = one_tenant::<Token>();
        let wants = [24, 9, 6, 9, 10, 8, 9, 9, 40];
        let at80 = shown(80, &layout, &heads, &wants);
        let get = |v: &[(String, u16)], h: &str| v.iter().find(|(x, _)| x == h).map(|(_, w)| *w);
        assert!(get(&at80, "NAME").unwrap() >= 20, "{at80:?}");
        assert!(get(&at80, "DESCRIPTION").unwrap() >= 16, "{at80:?}");
        assert_eq!(get(&at80, "STATUS"), Some(9));
        let total: u16 = at80.iter().map(|(_, w)| w + 1).sum::<u16>() - 1;
        assert!(total <= 80, "{at80:?}");
        let at60 = shown(60, &layout, &heads, &wants);
        assert!(
            get(&at60, "NAME").unwrap() > get(&at60, "USES").unwrap() + 8,
            "{at60:?}"
        );
        assert!(get(&at60, "EXPIRES").is_some(), "{at60:?}");
        let (layout, heads) = one_tenant::<Host>();
        let at120 = shown(120, &layout, &heads, &[10, 10, 5, 5, 9, 8, 16]);
        assert!(get(&at120, "ENROLLED").unwrap() >= 10, "{at120:?}");
    }
}
