//! Text as people read it. Which characters disturb how text reads in a terminal (the daemon
//! refuses them in what it stores; the CLI escapes them when it quotes older records that may
//! still hold them), and the order lists sort texts in.

use std::cmp::Ordering;

/// Characters that reorder the text around them when shown (bidirectional embeddings,
/// overrides and isolates: a name or description shown in a terminal could read as other text),
/// and the line and paragraph separators, which break a line without being control characters.
pub fn reorders_or_breaks(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
    )
}

/// The order lists sort texts in: letters A–Z as a–z (so `alpha` comes before `Zulu`), then,
/// between texts equal that way, byte order — a total order, the same in the daemon and the
/// console. Other letters compare by their bytes.
pub fn text_order(a: &str, b: &str) -> Ordering {
    if a == b {
        // The common tie (many tokens of one owner): settled without folding.
        return Ordering::Equal;
    }
    fn fold(s: &str) -> impl Iterator<Item = u8> + '_ {
        s.bytes().map(|c| c.to_ascii_lowercase())
    }
    fold(a).cmp(fold(b)).then_with(|| a.cmp(b))
}

/// The first 16 bytes of `s` as [`text_order`] sees them (A–Z folded), big-endian, padded
/// with zeros: where two of these differ, the texts order the same way.
pub fn text_prefix(s: &str) -> u128 {
    let mut b = [0u8; 16];
    for (d, c) in b.iter_mut().zip(s.bytes()) {
        *d = c.to_ascii_lowercase();
    }
    u128::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_sort_without_regard_to_case_and_still_totally() {
        let mut v = vec!["b", "Zulu", "alpha", "Alpha", "ALPHA", "a", "", "é", "Beta"];
        v.sort_by(|a, b| text_order(a, b));
        assert_eq!(
            v,
            ["", "a", "ALPHA", "Alpha", "alpha", "b", "Beta", "Zulu", "é"]
        );
        for a in &v {
            for b in &v {
                assert_eq!(text_order(a, b), text_order(b, a).reverse());
                assert_eq!(text_order(a, b) == Ordering::Equal, a == b);
                // Where the prefixes differ, they order as the texts do.
                if text_prefix(a) != text_prefix(b) {
                    assert_eq!(text_prefix(a).cmp(&text_prefix(b)), text_order(a, b));
                }
            }
        }
    }
}
