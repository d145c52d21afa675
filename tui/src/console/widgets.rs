//! Text-fitting helpers the screens share: which table columns show and how wide on a given
//! terminal (columns give way by rank), and text cut or padded to a number of terminal
//! columns with an "…" where it was cut.

use unicode_width::UnicodeWidthStr;

use super::table::Col;
use crate::output::elide;

/// Room for a sort arrow (" ▲") beside every heading, so sorting never cuts one.
const ARROW: usize = 2;

/// The width of each column in `width` terminal columns, one column apart, `None` for those
/// that give way. Columns are taken by rank (lowest first) while their minimum fits; then
/// each, by rank, grows towards what its cells need (`wants`, up to its maximum); the fill
/// column takes what is left.
pub fn fit_columns(
    width: u16,
    layout: &[Col],
    headers: &[&str],
    wants: &[usize],
) -> Vec<Option<u16>> {
    let min_of = |i: usize| {
        let head = headers.get(i).map_or(0, |h| h.width()) + ARROW;
        layout[i].min.max(u16::try_from(head).unwrap_or(u16::MAX))
    };
    let mut order: Vec<usize> = (0..layout.len()).collect();
    order.sort_by_key(|&i| (layout[i].rank, i));
    let mut out: Vec<Option<u16>> = vec![None; layout.len()];
    let mut used: u32 = 0;
    for &i in &order {
        let gap = if used == 0 { 0 } else { 1 };
        let need = used + gap + u32::from(min_of(i));
        if need > u32::from(width) {
            break;
        }
        used = need;
        out[i] = Some(min_of(i));
    }
    let mut extra = u32::from(width).saturating_sub(used);
    for &i in &order {
        let (Some(w), false) = (out[i], layout[i].fill) else {
            continue;
        };
        let want = wants
            .get(i)
            .copied()
            .map_or(w, |x| u16::try_from(x).unwrap_or(u16::MAX))
            .clamp(w, layout[i].max.max(w));
        let grow = u32::from(want - w).min(extra);
        extra -= grow;
        out[i] = Some(w + u16::try_from(grow).unwrap_or(0));
    }
    if let Some(i) = layout.iter().position(|c| c.fill)
        && let Some(w) = out[i]
    {
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
    #[test]
    fn columns_give_way_by_rank() {
        let heads = Token::COLUMNS;
        let wants = [24, 9, 6, 9, 10, 8, 9, 9, 40];
        let at80 = shown(80, Token::LAYOUT, heads, &wants);
        let get = |v: &[(String, u16)], h: &str| v.iter().find(|(x, _)| x == h).map(|(_, w)| *w);
        assert!(get(&at80, "NAME").unwrap() >= 20, "{at80:?}");
        assert!(get(&at80, "DESCRIPTION").unwrap() >= 16, "{at80:?}");
        assert_eq!(get(&at80, "STATUS"), Some(9));
        let total: u16 = at80.iter().map(|(_, w)| w + 1).sum::<u16>() - 1;
        assert!(total <= 80, "{at80:?}");
        let at60 = shown(60, Token::LAYOUT, heads, &wants);
        assert!(
            get(&at60, "NAME").unwrap() > get(&at60, "USES").unwrap() + 8,
            "{at60:?}"
        );
        assert!(get(&at60, "EXPIRES").is_some(), "{at60:?}");
        let at120 = shown(120, Host::LAYOUT, Host::COLUMNS, &[10, 10, 5, 5, 9, 8, 16]);
        assert!(get(&at120, "ENROLLED").unwrap() >= 10, "{at120:?}");
    }
}
