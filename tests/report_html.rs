//! report.html (issue 20): one valid, self-contained HTML5 file with every
//! section of report.md, checked with an HTML5 parser (html5ever, the
//! parser of Servo).

use std::path::Path;
use std::sync::OnceLock;

use html5ever::parse_document;
use html5ever::tendril::TendrilSink;
use markup5ever_rcdom::{Handle, NodeData, RcDom};
use trialpanel::analysis::{Analysis, ReportFormat, Results};

fn sample() -> &'static (Results, String, String) {
    static SAMPLE: OnceLock<(Results, String, String)> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let file =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data-samples/jobfirst/analysis.toml");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-html");
        let analysis = Analysis::from_file(file).unwrap().with_output_dir(&dir);
        let results = analysis.run().unwrap();
        results.write(&dir).unwrap();
        let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        (results, md, html)
    })
}

/// An element: its name, its attributes (name, value) and its node.
type Element = (String, Vec<(String, String)>, Handle);

/// Every element under `node`, depth first.
fn elements(node: &Handle, out: &mut Vec<Element>) {
    if let NodeData::Element { name, attrs, .. } = &node.data {
        let attrs = attrs
            .borrow()
            .iter()
            .map(|a| (a.name.local.to_string(), a.value.to_string()))
            .collect();
        out.push((name.local.to_string(), attrs, node.clone()));
    }
    for child in node.children.borrow().iter() {
        elements(child, out);
    }
}

fn text(node: &Handle) -> String {
    let mut s = String::new();
    if let NodeData::Text { contents } = &node.data {
        s.push_str(&contents.borrow());
    }
    for child in node.children.borrow().iter() {
        s.push_str(&text(child));
    }
    s
}

fn dom(html: &str) -> RcDom {
    parse_document(RcDom::default(), Default::default()).one(html)
}

#[test]
fn the_sample_report_is_valid_self_contained_html5() {
    let (_, _, html) = sample();
    // The parser does report what is not valid HTML5.
    let broken =
        dom("<!DOCTYPE html><html><head><title>t</title></head><body><p>a</div></body></html>");
    assert!(!broken.errors.borrow().is_empty());
    let dom = dom(html);
    let errors = dom.errors.borrow();
    assert!(errors.is_empty(), "HTML5 parse errors: {errors:?}");
    assert!(html.starts_with("<!DOCTYPE html>"));
    let mut all = Vec::new();
    elements(&dom.document, &mut all);
    let names: Vec<&str> = all.iter().map(|e| e.0.as_str()).collect();
    // Nothing fetched: no script, stylesheet link, image file, frame or
    // object, and no URL anywhere (the SVGs are inline, styles in <style>).
    for tag in ["script", "link", "img", "iframe", "object", "embed"] {
        assert!(!names.contains(&tag), "a <{tag}> element");
    }
    for (name, attrs, _) in &all {
        for (key, value) in attrs {
            let external = ["src", "href", "xlink:href", "action"].contains(&key.as_str())
                && !value.starts_with('#');
            assert!(!external, "<{name} {key}=\"{value}\">");
        }
    }
    for scheme in ["http:", "https:", "url(", "@import", "//fonts"] {
        assert!(!html.contains(scheme), "`{scheme}` in report.html");
    }
    // Every figure of the run is inline, in a <figure> with a caption.
    let (results, _, _) = sample();
    let figures = trialpanel::report::figures::all(results).unwrap();
    let svgs = names.iter().filter(|n| **n == "svg").count();
    assert_eq!(svgs, figures.len());
    let in_figure =
        all.iter()
            .filter(|e| e.0 == "figure")
            .filter(|e| {
                e.2.children.borrow().iter().any(
                    |c| matches!(&c.data, NodeData::Element { name, .. } if &*name.local == "svg"),
                )
            })
            .count();
    assert_eq!(in_figure, figures.len());
    // Ids are unique and every contents link points at one.
    let ids: Vec<&str> = all
        .iter()
        .flat_map(|e| e.1.iter().filter(|a| a.0 == "id").map(|a| a.1.as_str()))
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "duplicate ids");
    for (name, attrs, _) in &all {
        if let (true, Some((_, href))) = (name == "a", attrs.iter().find(|a| a.0 == "href")) {
            assert!(ids.contains(&&href[1..]), "link to missing {href}");
        }
    }
    // The synthetic-data notice, and the lang and charset a browser needs.
    assert!(html.contains("<strong>Synthetic data.</strong>"));
    assert!(html.contains("<html lang=\"en\">") && html.contains("<meta charset=\"utf-8\">"));
}

#[test]
fn every_section_of_report_md_has_its_html_twin() {
    let (_, md, html) = sample();
    // Markdown headings (outside code blocks) with their inline code
    // marks dropped, as the HTML shows them.
    let mut fenced = false;
    let md_headings: Vec<(usize, String)> = md
        .lines()
        .filter(|l| {
            if l.starts_with("```") {
                fenced = !fenced;
            }
            !fenced
        })
        .filter_map(|l| {
            let level = l.chars().take_while(|c| *c == '#').count();
            (level > 0 && l[level..].starts_with(' '))
                .then(|| (level, l[level + 1..].replace('`', "")))
        })
        .collect();
    let dom = dom(html);
    let mut all = Vec::new();
    elements(&dom.document, &mut all);
    let html_headings: Vec<(usize, String)> = all
        .iter()
        .filter_map(|(name, _, node)| {
            let level = match name.as_str() {
                "h1" => 1,
                "h2" => 2,
                "h3" => 3,
                "h4" => 4,
                _ => return None,
            };
            Some((level, text(node)))
        })
        .collect();
    assert!(md_headings.len() >= 15, "{md_headings:?}");
    assert_eq!(md_headings, html_headings);
    // And the contents lists every section (h2) in order.
    let nav = all
        .iter()
        .find(|e| e.0 == "nav")
        .expect("a table of contents");
    let mut inside = Vec::new();
    elements(&nav.2, &mut inside);
    let toc: Vec<String> = inside
        .iter()
        .filter(|e| e.0 == "a")
        .map(|(_, _, node)| text(node))
        .collect();
    let sections: Vec<String> = md_headings
        .iter()
        .filter(|h| h.0 == 2)
        .map(|h| h.1.clone())
        .collect();
    assert_eq!(toc, sections);
}

#[test]
fn formats_choose_the_files() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("data-samples/jobfirst/analysis.toml");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-md-only");
    let analysis = Analysis::from_file(file)
        .unwrap()
        .with_output_dir(&dir)
        .with_report_formats(&[ReportFormat::Md]);
    let (results, _, _) = sample();
    let mut results = results.clone();
    results.config.report.formats = analysis.config().report.formats.clone();
    let written = results.write(&dir).unwrap();
    assert!(written.iter().any(|p| p.ends_with("report.md")));
    assert!(!written.iter().any(|p| p.ends_with("report.html")));
}
