//! Which characters disturb how text reads in a terminal. The daemon refuses them in what it
//! stores; the CLI escapes them when it quotes older records that may still hold them.

/// Characters that reorder the text around them when shown (bidirectional embeddings,
/// overrides and isolates: a name or description shown in a terminal could read as other text),
/// and the line and paragraph separators, which break a line without being control characters.
pub fn reorders_or_breaks(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
    )
}
