//! Short excerpts of user data in messages: an error or warning quotes at
//! most a few dozen characters of a cell (which may be personal data, or a
//! whole file read as one field), saying how long it was.

/// Most characters of a cell value shown in an error message.
pub(crate) const VALUE_CHARS: usize = 60;

/// `text` cut to `max` characters, saying how long it was.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}… ({} bytes in all)", &text[..at], text.len()),
    }
}
