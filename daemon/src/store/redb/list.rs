//! The large token list of the redb engine: read from one snapshot and, from
//! `PARALLEL_LIST` tokens on, in two halves of the key space at once (`midpoint`), each sorted
//! on its own thread, then merged. No record is decoded into a `TokenRecord` on the way: each
//! stored record is copied into the binary list form (`codec::add_to_list`).

use ::redb::{Range, ReadTransaction, ReadableTable, ReadableTableMetadata};
use gatepass_protocol::binary::TokenListBuilder;
use gatepass_protocol::{SortColumn, Timestamp, TokenKeys};

use super::tables::TOKENS;
use crate::error::StoreError;
use crate::store::codec::add_to_list;

/// From this many tokens on, a list is read and sorted in two halves at once.
pub(super) const PARALLEL_LIST: usize = 20_000;
/// How many lists were read in two halves (tests check the split happened).
#[cfg(test)]
pub(super) static LISTS_SPLIT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A key past `lo` and no later than `hi` that splits keys spread evenly between them into two
/// halves of about the same size: the mean of their first 8 bytes, up to its first byte that is
/// not ASCII. `None` when no such key is left (`lo` and `hi` share their first 8 bytes, say).
pub(super) fn midpoint(lo: &str, hi: &str) -> Option<String> {
    let head = |s: &str| {
        let mut b = [0u8; 8];
        let n = s.len().min(8);
        b[..n].copy_from_slice(&s.as_bytes()[..n]);
        u64::from_be_bytes(b)
    };
    let (a, b) = (head(lo), head(hi));
    if a >= b {
        return None;
    }
    let mid = (a + (b - a) / 2).to_be_bytes();
    // Cut at the first byte that is not ASCII text (the mean carries halves into lower bytes):
    // a shorter key sorts no later, and what is left still has to lie past `lo`.
    let end = mid
        .iter()
        .position(|&c| c == 0 || !c.is_ascii())
        .unwrap_or(mid.len());
    let mid = std::str::from_utf8(&mid[..end]).ok()?;
    (mid > lo && mid <= hi).then(|| mid.to_owned())
}

/// A list the builder could not read back: only damaged stored records get there.
fn damaged_list(e: gatepass_protocol::Error) -> StoreError {
    StoreError::Damaged(format!("a stored token record does not decode: {e}"))
}

/// The tokens `keep` accepts, ready to be sorted by `column`, from the snapshot `r`; split in
/// two halves read at once from `parallel` tokens on.
pub(super) fn token_list(
    r: &ReadTransaction,
    now: Timestamp,
    column: SortColumn,
    keep: &(dyn Fn(&TokenKeys<'_>) -> bool + Sync),
    parallel: usize,
) -> Result<TokenListBuilder, StoreError> {
    let t = r.open_table(TOKENS)?;
    let n = t.len()? as usize;
    let part = |range: Range<'_, &str, &[u8]>, n: usize| {
        let mut list = TokenListBuilder::new(column, n);
        for item in range {
            let (_, v) = item?;
            add_to_list(v.value(), now, keep, &mut list)?;
        }
        list.sort().map_err(damaged_list)?;
        Ok::<_, StoreError>(list)
    };
    let split = match (t.first()?, t.last()?) {
        (Some((lo, _)), Some((hi, _))) if n >= parallel => midpoint(lo.value(), hi.value()),
        _ => None,
    };
    let Some(mid) = split else {
        return part(t.range::<&str>(..)?, n);
    };
    // Two halves of the key space, read and sorted at once, then merged.
    #[cfg(test)]
    LISTS_SPLIT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::thread::scope(|scope| {
        let upper = scope.spawn(|| part(t.range(mid.as_str()..)?, n / 2));
        let lower = t
            .range(..mid.as_str())
            .map_err(StoreError::from)
            .and_then(|range| part(range, n / 2));
        // Joined whatever the lower half did; a panic of the upper half goes on in this
        // thread, where the read's guard stops the store (as for any panic in the engine).
        let upper = match upper.join() {
            Ok(upper) => upper,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        lower?.merge(upper?).map_err(damaged_list)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_midpoint_splits_between_its_ends() {
        // Each pair either has a split point strictly inside it or (sharing the first 8
        // bytes, or out of order) none: no case may skip the check.
        for (lo, hi, splits) in [
            ("0000", "zzzz", true),
            ("AbCdEfGhIjKl", "AbCdEfGhIjKm", false),
            ("a", "b", false),
            ("Zz", "a", true),
            ("0", "0000000000001", true),
            ("same", "same", false),
            ("zzzz", "0000", false),
        ] {
            match midpoint(lo, hi) {
                Some(mid) => {
                    assert!(splits, "{lo} {hi}: unexpected split at {mid}");
                    assert!(lo < mid.as_str() && mid.as_str() <= hi, "{lo} {mid} {hi}");
                }
                None => assert!(!splits, "{lo} {hi}: no split point found"),
            }
        }
        // Not text once averaged: cut to what is.
        assert_eq!(midpoint("\u{7f}", "\u{e9}"), None);
        assert_eq!(midpoint("0z", "z0").as_deref(), Some("UU"));
        assert_eq!(midpoint("1z", "z0").as_deref(), Some("U"));
    }
}
