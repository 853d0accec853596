//! Quoting text for DOT.
//!
//! Every piece of user text (node names, error types and messages, the
//! title) reaches DOT only as a quoted *escString* attribute value, never as
//! an id: node ids are `n<id>` and group ids `g<k>`. Inside a quoted string
//! the DOT lexer knows exactly one escape, `\"`, and keeps every other
//! backslash; Graphviz then interprets escString sequences in labels and
//! tooltips (`\n`, `\l`, `\r`, `\N`, `\G`, `\\`, ...). So:
//!
//! - `\` becomes `\\` (the label shows one backslash, and `\N` in a name
//!   stays literal text instead of turning into the node's id);
//! - `"` becomes `\"`;
//! - a line break (`\n`, `\r\n` or `\r`) becomes the escString `\n`;
//! - any other control character becomes visible text such as `\u{7}` (its
//!   backslash doubled), because raw control bytes confuse Graphviz's
//!   layout and some renderers;
//! - `<>`, `{}`, `|` need nothing: they are special only in HTML-like labels
//!   and record shapes, and we use neither.
//!
//! Non-ASCII text passes through unchanged; the graph declares
//! `charset="UTF-8"`.

use std::fmt::Write as _;

use graphviz_rust::dot_structures::Id;

/// `text` as a quoted DOT escString, quotes included.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    push_escaped(&mut out, text);
    out.push('"');
    out
}

/// `text` as a quoted DOT id (for attribute values).
pub(crate) fn quoted_id(text: &str) -> Id {
    Id::Escaped(quote(text))
}

/// Appends `text` escaped for the inside of a DOT quoted string.
pub(crate) fn push_escaped(out: &mut String, text: &str) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\t' => out.push(' '),
            c if c.is_control() => {
                let _ = write!(out, "\\\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// At most `max` characters of `text`, with `…` appended if cut.
pub(crate) fn truncate(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => text.into(),
        Some((at, _)) => format!("{}…", &text[..at]).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_only_quoted() {
        assert_eq!(quote("load"), "\"load\"");
        assert_eq!(quote("Ünïcödé ✓ 名前"), "\"Ünïcödé ✓ 名前\"");
        assert_eq!(quote("<lambda> {x} |y|"), "\"<lambda> {x} |y|\"");
    }

    #[test]
    fn quotes_backslashes_and_breaks_are_escaped() {
        assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
        assert_eq!(quote(r"a\b"), r#""a\\b""#);
        assert_eq!(quote("ends with \\"), r#""ends with \\""#);
        assert_eq!(quote(r#"\""#), r#""\\\"""#);
        assert_eq!(quote("a\nb\r\nc\rd"), r#""a\nb\nc\nd""#);
        assert_eq!(quote(r"\N \G \l"), r#""\\N \\G \\l""#);
    }

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(quote("a\u{7}b\u{0}"), r#""a\\u{7}b\\u{0}""#);
        assert_eq!(quote("a\tb"), "\"a b\"");
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("äöüß", 2), "äö…");
    }
}
