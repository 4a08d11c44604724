//! Short excerpts of user data in messages: an error or warning quotes at
//! most a few dozen characters of a cell (which may be personal data, or a
//! whole file read as one field), saying how long it was.

/// Most characters of a cell value shown in an error message.
pub(crate) const VALUE_CHARS: usize = 60;

/// Most items of a list shown in a message (the rest are counted).
pub(crate) const LISTED: usize = 20;

/// `text` cut to `max` characters, saying how long it was.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}… ({} bytes in all)", &text[..at], text.len()),
    }
}

/// The items as `a, b, c`, at most [`LISTED`] of them, each cut to
/// [`VALUE_CHARS`], and `… and N more` for the rest; `none` for no items.
/// Every list of user data in an error or warning goes through here.
pub(crate) fn list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let mut shown = Vec::new();
    let mut rest = 0usize;
    for item in items {
        if shown.len() < LISTED {
            shown.push(excerpt(item.as_ref(), VALUE_CHARS));
        } else {
            rest += 1;
        }
    }
    match (shown.is_empty(), rest) {
        (true, _) => "none".into(),
        (false, 0) => shown.join(", "),
        (false, n) => format!("{} and {n} more", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_capped_and_counted() {
        assert_eq!(list(Vec::<String>::new()), "none");
        assert_eq!(list(["a", "b"]), "a, b");
        let many: Vec<String> = (0..25).map(|i| format!("t{i}")).collect();
        let shown = list(&many);
        assert!(shown.starts_with("t0, t1, "), "{shown}");
        assert!(shown.ends_with("t19 and 5 more"), "{shown}");
        let long = "x".repeat(500);
        assert_eq!(
            list([&long]),
            format!("{}… (500 bytes in all)", "x".repeat(60))
        );
    }
}
