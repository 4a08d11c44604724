//! `report.html`: the whole report in one file that opens in any browser.
//!
//! It is report.md rendered to HTML (CommonMark with tables, by
//! `pulldown-cmark`), so the two have the same sections, tables and
//! numbers by construction. Around it: a table of contents of the sections,
//! every figure inlined as SVG (in a `<figure>` with its caption), styles
//! inline, and nothing that needs a network (no script, font, link or
//! image file). In print each section starts a page and no table, row or
//! figure is cut. A missing value ("–") in a table carries its reason on
//! hover: the reason written beside it in report.md, or else the reason
//! that column's values go missing for.

use std::collections::HashMap;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd, TextMergeStream};

/// The page's styles: readable on screen, and in print one section per
/// page with no table, row or figure cut.
const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; line-height: 1.45;
       color: #1b1b1b; max-width: 72rem; margin: 2rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.7rem; margin-bottom: .4rem; }
h2 { font-size: 1.35rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2.2rem; }
h3 { font-size: 1.1rem; }
code { font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace; font-size: .92em;
       background: #f3f3f3; padding: 0 .2em; border-radius: 3px; }
table { border-collapse: collapse; margin: .8rem 0 1.2rem; font-size: .9rem; }
th, td { border: 1px solid #d0d0d0; padding: .25rem .55rem; vertical-align: top; }
th { background: #f1f4f8; }
tbody tr:nth-child(even) { background: #fafafa; }
td[style*='right'], th[style*='right'] { font-variant-numeric: tabular-nums; }
.missing { cursor: help; border-bottom: 1px dotted #777; }
blockquote { margin: 1rem 0; padding: .6rem 1rem; border-left: 4px solid #b58900; background: #fdf6e3; }
nav.toc { background: #f6f8fa; border: 1px solid #dde3ea; padding: .6rem 1.2rem; margin: 1rem 0 2rem; }
nav.toc ol { margin: .3rem 0; padding-left: 1.4rem; }
figure { margin: 1rem 0 1.6rem; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: .85rem; color: #555; margin-top: .3rem; }
.scroll { overflow-x: auto; }
@page landscape { size: A4 landscape; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  nav.toc { break-after: page; }
  section { break-before: page; }
  table, tr, figure, blockquote { break-inside: avoid; }
  thead { display: table-header-group; }
  .scroll { overflow: visible; }
  .wide { page: landscape; }
  .wide table { font-size: 8pt; }
  .wide th, .wide td { padding: .15rem .3rem; }
  a { color: inherit; text-decoration: none; }
}
";

/// Tables of more columns than this, and figures wider than
/// [`WIDE_FIGURE`] pixels, are printed on a landscape page of their own,
/// with smaller table text, so that none is cut or shrunk to an unreadable
/// size.
const WIDE_COLUMNS: usize = 9;
const WIDE_FIGURE: u32 = 1100;

/// The `width` of an SVG document's root element, in pixels.
fn svg_width(svg: &str) -> Option<u32> {
    let root = &svg[svg.find("<svg")?..];
    let root = &root[..root.find('>')?];
    let at = root.find(" width=\"")? + " width=\"".len();
    let value = &root[at..];
    value[..value.find('"')?]
        .trim_end_matches("px")
        .parse()
        .ok()
}

/// The report titled `title` as one HTML5 document: `markdown` (report.md)
/// with `figures` ((file name, SVG) as in `figures/`) inlined.
pub fn render(title: &str, markdown: &str, figures: &[(String, String)]) -> String {
    let svg: HashMap<&str, &str> = figures
        .iter()
        .map(|(name, svg)| (name.as_str(), svg.as_str()))
        .collect();
    let events: Vec<Event<'_>> =
        TextMergeStream::new(Parser::new_ext(markdown, Options::ENABLE_TABLES)).collect();
    let mut toc: Vec<(String, String)> = Vec::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<Event<'_>> = Vec::with_capacity(events.len());
    let mut in_section = false;
    let mut header: Vec<String> = Vec::new();
    let (mut in_head, mut in_cell, mut column) = (false, false, 0usize);
    let mut wide_table = false;
    let mut i = 0;
    while i < events.len() {
        match &events[i] {
            Event::Start(Tag::Heading { level, .. }) => {
                let text = plain_text(&events[i + 1..]);
                let id = unique_id(&text, &mut ids);
                if *level == HeadingLevel::H2 {
                    if in_section {
                        out.push(Event::Html("</section>\n".into()));
                    }
                    out.push(Event::Html("<section>\n".into()));
                    in_section = true;
                    toc.push((id.clone(), text));
                }
                out.push(Event::Start(Tag::Heading {
                    level: *level,
                    id: Some(id.into()),
                    classes: Vec::new(),
                    attrs: Vec::new(),
                }));
            }
            // A paragraph that is only a figure becomes a <figure>.
            Event::Start(Tag::Paragraph)
                if matches!(events.get(i + 1), Some(Event::Start(Tag::Image { .. }))) =>
            {
                let (Some(Event::Start(Tag::Image { dest_url, .. })), Some(end)) = (
                    events.get(i + 1),
                    events[i + 1..]
                        .iter()
                        .position(|e| matches!(e, Event::End(TagEnd::Paragraph))),
                ) else {
                    out.push(events[i].clone());
                    i += 1;
                    continue;
                };
                let caption = plain_text(&events[i + 2..]);
                let name = dest_url.strip_prefix("figures/").unwrap_or(dest_url);
                let body = svg.get(name).map_or_else(
                    || format!("<p>(figure {} not drawn)</p>", escape(name)),
                    |s| inline_svg(s, &caption),
                );
                let wide = svg
                    .get(name)
                    .and_then(|s| svg_width(s))
                    .is_some_and(|w| w > WIDE_FIGURE);
                out.push(Event::Html(
                    format!(
                        "<figure{}>\n{body}\n<figcaption>{}</figcaption>\n</figure>\n",
                        if wide { " class=\"wide\"" } else { "" },
                        escape(&caption)
                    )
                    .into(),
                ));
                i += 1 + end + 1;
                continue;
            }
            Event::Start(Tag::Table(columns)) => {
                wide_table = columns.len() > WIDE_COLUMNS;
                out.push(Event::Html(
                    if wide_table {
                        "<div class=\"scroll wide\">\n"
                    } else {
                        "<div class=\"scroll\">\n"
                    }
                    .into(),
                ));
                out.push(events[i].clone());
                header.clear();
            }
            Event::End(TagEnd::Table) => {
                out.push(events[i].clone());
                out.push(Event::Html("</div>\n".into()));
            }
            Event::Start(Tag::TableHead) => {
                in_head = true;
                column = 0;
                out.push(events[i].clone());
            }
            Event::End(TagEnd::TableHead) => {
                in_head = false;
                out.push(events[i].clone());
            }
            Event::Start(Tag::TableRow) => {
                column = 0;
                out.push(events[i].clone());
            }
            Event::Start(Tag::TableCell) => {
                in_cell = true;
                if in_head {
                    header.push(plain_text(&events[i + 1..]));
                }
                out.push(events[i].clone());
            }
            Event::End(TagEnd::TableCell) => {
                in_cell = false;
                column += 1;
                out.push(events[i].clone());
            }
            // A wide table's headings may break after an underscore.
            Event::Text(text) if in_head && wide_table && text.contains('_') => {
                out.push(Event::Html(escape(text).replace('_', "_<wbr>").into()));
            }
            Event::Text(text) if in_cell && !in_head && text.trim_start().starts_with('–') => {
                let header = header.get(column).map_or("", String::as_str);
                out.push(match missing(text, header) {
                    Some(html) => Event::Html(html.into()),
                    None => events[i].clone(),
                });
            }
            other => out.push(other.clone()),
        }
        i += 1;
    }
    if in_section {
        out.push(Event::Html("</section>\n".into()));
    }
    let mut body = String::new();
    pulldown_cmark::html::push_html(&mut body, out.into_iter());
    // The table of contents goes after the title and the opening lines,
    // before the first section.
    let mut nav = String::from(
        "<nav class=\"toc\" aria-label=\"Contents\">\n<strong>Contents</strong>\n<ol>\n",
    );
    for (id, text) in &toc {
        nav.push_str(&format!(
            "<li><a href=\"#{id}\">{}</a></li>\n",
            escape(text)
        ));
    }
    nav.push_str("</ol>\n</nav>\n");
    let body = match body.find("<section") {
        Some(at) => format!("{}{nav}{}", &body[..at], &body[at..]),
        None => format!("{nav}{body}"),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"trialpanel {}\">\n<title>{}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        escape(title)
    )
}

/// The text of the inline events up to the end of the current block.
fn plain_text(events: &[Event<'_>]) -> String {
    let mut s = String::new();
    for e in events {
        match e {
            Event::Text(t) | Event::Code(t) => s.push_str(t),
            Event::SoftBreak | Event::HardBreak => s.push(' '),
            Event::End(
                TagEnd::Heading(_) | TagEnd::Paragraph | TagEnd::TableCell | TagEnd::Image,
            ) => break,
            _ => {}
        }
    }
    s
}

/// A fragment id from a heading's text, made unique with a suffix.
fn unique_id(text: &str, seen: &mut HashMap<String, usize>) -> String {
    let mut id = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            id.push(c);
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    let id = id.trim_end_matches('-').to_string();
    let id = if id.is_empty() {
        "section".to_string()
    } else {
        id
    };
    let n = seen.entry(id.clone()).or_insert(0);
    *n += 1;
    if *n == 1 { id } else { format!("{id}-{n}") }
}

/// A figure's SVG for inlining: without the namespace attribute (HTML puts
/// `<svg>` in the SVG namespace itself), labelled by its caption.
fn inline_svg(svg: &str, caption: &str) -> String {
    let svg = svg.trim();
    let svg = svg.strip_prefix("<?xml").map_or(svg, |rest| {
        rest.find("?>")
            .map_or(svg, |end| rest[end + 2..].trim_start())
    });
    svg.replacen(
        " xmlns=\"http://www.w3.org/2000/svg\"",
        &format!(" role=\"img\" aria-label=\"{}\"", escape(caption)),
        1,
    )
}

/// A table cell's missing value ("–", or "– (reason)") as a span with its
/// reason on hover; `None` for a cell that is not a missing value.
fn missing(text: &str, header: &str) -> Option<String> {
    let t = text.trim();
    let reason = if t == "–" {
        reason_of(header).to_string()
    } else {
        let inner = t.strip_prefix("– (")?.strip_suffix(')')?;
        inner.to_string()
    };
    Some(format!(
        "<span class=\"missing\" title=\"{}\">–</span>",
        escape(&reason)
    ))
}

/// Why a column's values go missing (methods §8: an undefined statistic is
/// missing, never 0).
fn reason_of(header: &str) -> &'static str {
    let h = header.to_lowercase();
    if h.contains("rate") {
        "nobody was invited"
    } else if h.contains("change") {
        "no answers in the first or the last wave"
    } else if h == "p"
        || h.contains("ci")
        || h.contains("mde")
        || h.contains("effect")
        || h.contains("se")
    {
        "undefined: an arm has fewer than two persons with a value, or no variation"
    } else if h.contains("spearman") || h.contains("pearson") {
        "too few sites, or a measure constant across sites"
    } else if h.contains("treatment") || h.contains("control") {
        "nobody in this arm is followed or judged here"
    } else {
        "not defined for these data (too few persons or no variation)"
    }
}

/// `&`, `<`, `>` and `"` escaped for HTML text and attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD: &str = "# T & co\n\nIntro.\n\n## A table\n\n| Site | p | Rate |\n|---|---:|---:|\n\
                      | a | – | – |\n| b | – (none judged) | 5% |\n\n## A figure\n\n\
                      ![the caption & more](figures/f.svg)\n\n![gone](figures/g.svg)\n\n## A table\n";

    #[test]
    fn missing_values_carry_their_reason_and_figures_are_inline() {
        let svg = "<svg width=\"10\" height=\"5\" viewBox=\"0 0 10 5\" xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>";
        let html = render("T & co", MD, &[("f.svg".into(), svg.into())]);
        assert!(html.contains("<title>T &amp; co</title>"));
        assert!(html.contains("<span class=\"missing\" title=\"undefined: an arm has fewer than two persons with a value, or no variation\">–</span>"));
        assert!(html.contains("<span class=\"missing\" title=\"nobody was invited\">–</span>"));
        assert!(html.contains("<span class=\"missing\" title=\"none judged\">–</span>"));
        assert!(html.contains("<svg width=\"10\" height=\"5\" viewBox=\"0 0 10 5\" role=\"img\" aria-label=\"the caption &amp; more\"><rect/></svg>"));
        assert!(html.contains("<figcaption>the caption &amp; more</figcaption>"));
        assert!(html.contains("(figure g.svg not drawn)"));
        assert!(!html.contains("http"));
        // Two sections of the same name get distinct ids, both in the contents.
        assert!(html.contains("<h2 id=\"a-table\">") && html.contains("<h2 id=\"a-table-2\">"));
        assert!(html.contains("href=\"#a-table-2\""));
        // The contents come after the title and its opening lines.
        let (nav, intro) = (html.find("<nav").unwrap(), html.find("Intro.").unwrap());
        assert!(intro < nav && nav < html.find("<section>").unwrap());
    }
}
